"""
The market's own rules, shared by every layer: ticker symbols (``symbols``) and the
XNYS trading calendar (``calendar``). No I/O; nothing above it is imported.
"""
