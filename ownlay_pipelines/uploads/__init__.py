"""File uploads (CSV, TSV, XLSX) of costs, orders and events into the lake.

`load.load_upload` is the one entry point; the CLI (`ownlay upload`) and the drop-folder sensor
both call it. Detection (encoding, delimiter, header row, date and number formats, currency
symbols) happens in `sniff`, `sample` and `formats`, the column mapping in `mapping`, the typing
of every row in `convert`.
"""
