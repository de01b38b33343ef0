//! The command-line grammar (clap derive). Names here are a stable promise to scripts.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "klartext",
    version,
    about = "Governed machine learning for marketing, in one binary."
)]
pub struct Cli {
    /// The project folder (default: the current folder or the nearest parent with a klartext.toml).
    #[arg(long, global = true, env = "KLARTEXT_PROJECT")]
    pub project: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a project: klartext.toml, usecases/, and the embedded store.
    Init {
        /// Where to create it (default: the current folder).
        dir: Option<PathBuf>,
    },
    /// Create a project with generated churn data, register it and show its report.
    Quickstart {
        /// Where to create the project.
        #[arg(default_value = "klartext-quickstart")]
        dir: PathBuf,
        /// Rows of generated data.
        #[arg(long, default_value_t = 20_000)]
        rows: usize,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Stop after training instead of serving the model (tests, CI).
        #[arg(long)]
        no_serve: bool,
        /// Address the server listens on at the end.
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: String,
    },
    /// Use-case files.
    #[command(subcommand)]
    Usecase(UsecaseCommand),
    /// Datasets: add, list, show, generate.
    #[command(subcommand)]
    Data(DataCommand),
    /// Train, validate, explain and register a model version for a use case.
    Train {
        usecase: String,
        /// The dataset to train on (default: the newest registered for the use case).
        #[arg(long)]
        dataset: Option<String>,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        #[arg(long)]
        json: bool,
    },
    /// Score a file offline: the input's id column, `score`, `label` and `reasons`.
    Score {
        usecase: String,
        /// CSV, NDJSON or Parquet (gzip allowed), with the model's feature columns.
        #[arg(long, short)]
        input: PathBuf,
        /// CSV or NDJSON, by extension.
        #[arg(long, short)]
        output: PathBuf,
        /// The model version (default: the newest whose gates passed).
        #[arg(long)]
        model: Option<String>,
        /// Leave out reasons (faster).
        #[arg(long)]
        no_reasons: bool,
        #[arg(long)]
        json: bool,
    },
    /// Model versions.
    #[command(subcommand)]
    Models(ModelsCommand),
    /// Print a model version's card (Markdown).
    Card {
        /// `USECASE@VERSION` (a unique prefix of the version is enough).
        target: String,
        /// Write it to this file instead of stdout.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// The audit trail.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Serve the decision API: the model of every use case over HTTP.
    Serve(ServeArgs),
    /// API keys for the decision API.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Webhooks: signed POSTs of audit events (`model.promoted`, `usecase.switched`, ...)
    /// to subscribed URLs, retried with backoff; `klartext serve` delivers in the background.
    #[command(subcommand)]
    Webhooks(WebhooksCommand),
    /// Point the champion (or challenger) alias at a model version; refused unless every
    /// gate of the use case was evaluated on it and passed.
    Promote {
        /// `USECASE@VERSION` (a unique prefix of the version is enough).
        target: String,
        /// Which alias.
        #[arg(long, default_value = "champion", value_parser = ["champion", "challenger"])]
        to: String,
        /// Run the challenger as a canary answering this share of subjects (e.g. `10%`);
        /// without it a challenger runs in shadow.
        #[arg(long)]
        canary: Option<String>,
        /// Promote although gates failed or were not evaluated; needs `--reason`, and is
        /// recorded as an override in the audit trail.
        #[arg(long = "override", requires = "reason")]
        override_gates: bool,
        /// Why (required with `--override`).
        #[arg(long)]
        reason: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Restore the previous champion of a use case.
    Rollback {
        usecase: String,
        #[arg(long)]
        reason: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Kill switch: `switch off USECASE --reason "..."` answers the use case's fallback on
    /// every server sharing the store within a second; `switch on USECASE` ends it.
    Switch {
        #[arg(value_parser = ["off", "on"])]
        state: String,
        usecase: String,
        #[arg(long)]
        reason: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// The challenger against the champion on logged traffic: rows, mean scores, label
    /// agreement on requests both scored (shadow), and AUC where feedback exists.
    Compare {
        usecase: String,
        #[arg(long)]
        json: bool,
    },
    /// Drift and live performance of the served model: the use case's window of logged
    /// traffic against the training reference, feedback against the model card, findings
    /// in words. Raises due `drift.detected` / `performance.degraded` alerts.
    Monitor {
        usecase: String,
        /// A model version other than the served one.
        #[arg(long)]
        model: Option<String>,
        /// Also write the report with charts as an HTML page.
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
        /// Report only; raise no alert.
        #[arg(long)]
        no_alerts: bool,
        #[arg(long)]
        json: bool,
    },
    /// Drift of a data file (CSV, NDJSON, Parquet) against the training reference of the
    /// served model, feature by feature and for the score.
    Drift {
        usecase: String,
        #[arg(long, value_name = "FILE")]
        data: PathBuf,
        #[arg(long)]
        model: Option<String>,
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Export documents of a model version.
    #[command(subcommand)]
    Export(ExportCommand),
    /// Data-subject rights: find, export, erase, object (GDPR Art. 15, 17, 21).
    #[command(subcommand)]
    Subject(SubjectCommand),
    /// The human review queue of decisions with a significant effect (GDPR Art. 22).
    #[command(subcommand)]
    Review(ReviewCommand),
    /// Retention: purge expired prediction-log rows and datasets per use case.
    #[command(subcommand)]
    Retention(RetentionCommand),
}

#[derive(Debug, Subcommand)]
pub enum SubjectCommand {
    /// Where a subject's data is kept (datasets, predictions, feedback, objection,
    /// reviews); prints nothing kept when there is none.
    Find {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Everything kept about a subject, with each decision's reasons in words.
    Export {
        id: String,
        #[arg(long)]
        json: bool,
        /// Also write a self-contained HTML page for the subject to this file.
        #[arg(long)]
        html: Option<PathBuf>,
    },
    /// Erase a subject: rows removed from every dataset snapshot (new snapshot and hash),
    /// prediction log pseudonymised, feedback deleted. Models are not retrained.
    Erase {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Record an objection to profiling: no use case scores the subject from now on,
    /// and training leaves its rows out.
    Object {
        id: String,
        #[arg(long)]
        reason: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Withdraw a subject's objection, at the subject's wish: every use case may score it
    /// again (every server within a second), and training uses its rows again.
    Withdraw {
        id: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ReviewCommand {
    /// Queued decisions, oldest first.
    List {
        #[arg(long)]
        usecase: Option<String>,
        /// pending (default), approved, rejected or all.
        #[arg(long, default_value = "pending")]
        status: String,
        #[arg(long)]
        json: bool,
    },
    /// Approve a queued decision (by its prediction id).
    Approve {
        id: String,
        #[arg(long)]
        reason: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Reject a queued decision (by its prediction id); needs a reason.
    Reject {
        id: String,
        #[arg(long)]
        reason: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum RetentionCommand {
    /// Purge what each use case's `[retention]` lets expire (`klartext serve` also runs
    /// this every hour).
    Run {
        /// Only count what would go.
        #[arg(long)]
        dry_run: bool,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key; its secret is printed once and only its hash is stored.
    Create {
        /// scorer (predict, feedback), operator or admin (everything).
        #[arg(long, value_parser = ["scorer", "operator", "admin"])]
        role: String,
        #[arg(long)]
        json: bool,
    },
    /// List keys (ids and roles; secrets are never shown again).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key by its id.
    Revoke {
        id: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// List a use case's model versions, newest first.
    List {
        usecase: String,
        #[arg(long)]
        json: bool,
    },
    /// Show a model version: metrics, fairness, gates, lineage.
    Show {
        /// `USECASE@VERSION`.
        target: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum UsecaseCommand {
    /// Validate every use-case file of the project.
    Check {
        #[arg(long)]
        json: bool,
    },
    /// List the project's use cases.
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Register a data file (CSV, NDJSON, Parquet; gzip allowed) for a use case.
    Add(DataAdd),
    /// List registered datasets.
    List {
        #[arg(long)]
        usecase: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Show a dataset's schema and quality report.
    Show {
        id: String,
        /// The use case whose registration to show (default: the only or newest one).
        #[arg(long)]
        usecase: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Write a realistic synthetic churn data set with known ground truth.
    Generate(DataGenerate),
}

#[derive(Debug, Args)]
pub struct DataAdd {
    pub file: PathBuf,
    #[arg(long)]
    pub usecase: String,
    /// Replace this column by a keyed hash before anything is stored (repeatable).
    #[arg(long = "pseudonymise", value_name = "COLUMN")]
    pub pseudonymise: Vec<String>,
    /// Pseudonymise every column where personal data (e-mail, phone, IBAN, card, IP) is found.
    #[arg(long)]
    pub pseudonymise_pii: bool,
    /// Field delimiter (default: detected). `ws` for runs of whitespace.
    #[arg(long)]
    pub delimiter: Option<String>,
    /// The first row is data, not column names (default: detected).
    #[arg(long)]
    pub no_header: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DataGenerate {
    /// Output file (.csv, .csv.gz or .ndjson).
    #[arg(long, short)]
    pub output: PathBuf,
    #[arg(long, default_value_t = 5000)]
    pub rows: usize,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Extra log-odds of churn for the protected group `female = 1` (0: none).
    #[arg(long, default_value_t = 0.0)]
    pub bias: f64,
    /// Drift strength 0..1 (shorter tenure, higher charges, more support calls).
    #[arg(long, default_value_t = 0.0)]
    pub drift: f64,
    /// Additional numeric columns (informative and noise), e.g. to reach 30 columns.
    #[arg(long, default_value_t = 0)]
    pub extra_features: usize,
    /// Add fake e-mail and phone columns (to exercise PII detection).
    #[arg(long)]
    pub pii: bool,
    /// Also write the true churn probability per row to this file.
    #[arg(long)]
    pub truth: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Print the audit trail.
    Log {
        /// Only events after this sequence number.
        #[arg(long, default_value_t = 0)]
        since: i64,
        #[arg(long)]
        json: bool,
    },
    /// Recompute the hash chain and name the first event that does not match.
    Verify {
        #[arg(long)]
        json: bool,
    },
    /// Sign a checkpoint of the trail as it is now (the installation's Ed25519 key), so
    /// that deleting later events is detectable.
    Checkpoint {
        #[arg(long)]
        json: bool,
    },
    /// Purge audit events before a date: refused when it would keep less than six months
    /// (EU AI Act Art. 26(6)); older purges are not offered yet either.
    Purge {
        /// YYYY-MM-DD (UTC).
        #[arg(long)]
        before: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum WebhooksCommand {
    /// Subscribe an http:// URL to event types; prints the signing secret once.
    Add {
        url: String,
        /// Comma-separated audit actions (`model.promoted,usecase.switched`), or `*`.
        #[arg(long, value_delimiter = ',', required = true)]
        events: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// List subscriptions (secrets are never shown again).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Remove a subscription by its id.
    Remove {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Every delivery attempt with its HTTP status or error and next retry.
    Deliveries {
        /// Only this subscription's.
        #[arg(long)]
        webhook: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Deliver everything due now, once (for tests and cron), and print the attempts.
    Deliver {
        /// Attempts per event before giving up.
        #[arg(long, default_value_t = 8)]
        max_attempts: u32,
        /// The first retry's wait in milliseconds; doubled after each failure.
        #[arg(long, default_value_t = 1000)]
        backoff_ms: u64,
        /// Per-attempt timeout in milliseconds.
        #[arg(long, default_value_t = 5000)]
        timeout_ms: u64,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// The technical documentation bundle (EU AI Act Annex IV style): purpose, data,
    /// validation and results, fairness, limits, human oversight, change log, lineage;
    /// as Markdown and HTML.
    Docs {
        /// `USECASE@VERSION` (a unique prefix of the version is enough).
        target: String,
        /// Folder to write into (default: `docs-USECASE-VERSION/` in the project).
        #[arg(long, short)]
        output: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
}

/// Where `klartext serve` listens and the limits it keeps.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: String,
    /// Largest request body accepted, in bytes.
    #[arg(long, default_value_t = 2 * 1024 * 1024)]
    pub body_limit: usize,
    /// Most rows one batch request may carry.
    #[arg(long, default_value_t = 10_000)]
    pub max_batch_rows: usize,
    /// Connections open at once; more are refused with 503 (keep it below the file limit).
    #[arg(long, default_value_t = 1000)]
    pub max_connections: usize,
    /// Seconds a connection may take to send a request's headers.
    #[arg(long, default_value_t = 10)]
    pub header_timeout: u64,
    /// Seconds a request body may go without a byte arriving (408).
    #[arg(long, default_value_t = 30)]
    pub body_timeout: u64,
    /// Seconds a keep-alive connection may stay open without a byte moving.
    #[arg(long, default_value_t = 60)]
    pub idle_timeout: u64,
    /// `/metrics` needs an operator key (it names use cases and model versions).
    #[arg(long)]
    pub private_metrics: bool,
}

impl ServeArgs {
    /// The server's limits.
    pub fn config(&self) -> klartext_server::ServerConfig {
        use std::time::Duration;
        klartext_server::ServerConfig {
            body_limit: self.body_limit,
            max_batch_rows: self.max_batch_rows,
            max_connections: self.max_connections.max(1),
            header_timeout: Duration::from_secs(self.header_timeout.max(1)),
            body_timeout: Duration::from_secs(self.body_timeout.max(1)),
            idle_timeout: Duration::from_secs(self.idle_timeout.max(1)),
            private_metrics: self.private_metrics,
            ..klartext_server::ServerConfig::default()
        }
    }
}
