"""The language server (`protocolc lsp`): the compiler's feedback while a protocol is typed.

The server runs the same pipeline as `protocolc check` in-process on every change
(debounced), and answers editor requests from the compiled model and the data tables:

    analysis.py     text → Analysis (the Compiled result, the lines), cached per version
    positions.py    compiler spans (1-based, code points) ↔ LSP ranges (0-based, negotiated encoding)
    lines.py        what is written around the cursor (statement, drug name, `§id`, words)
    diagnostics.py  Diagnostic → LSP diagnostic (code, hint, related, rule link)
    hover.py        drugs, regimens, fractionations, rule codes
    completion.py   drug names, units, routes, frequencies, regimens, `§ids`, metadata, conditions
    navigation.py   definition, references, document symbols
    actions.py      code actions from fixes; formatting through the formatter
    server.py       the pygls wiring: sync, debounce, capabilities

Everything but `server.py` is free of pygls' transport, so tests and the benchmark call
the features directly.
"""
