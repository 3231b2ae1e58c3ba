"""SFU media worker processes (aiortc). Imports no Django and none of the project's apps:
it talks to the web tier only through its versioned message protocol over Redis."""
