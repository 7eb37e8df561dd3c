"""Click commands, one module per stage; ``stocks_elt.cli`` loads them lazily."""
