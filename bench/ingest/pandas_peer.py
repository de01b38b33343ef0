"""The pandas peer of the ingest benchmark: read the CSV, describe it (numeric and all)."""
import sys

import pandas as pd

df = pd.read_csv(sys.argv[1])
num = df.describe()
allc = df.describe(include="all")
print(df.shape, num.shape, allc.shape)
