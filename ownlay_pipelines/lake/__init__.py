"""The Parquet lake: partition paths, the atomic writer, quarantine and the warehouse catalog."""
