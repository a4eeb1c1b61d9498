"""SystmOne Client Integration protocol: sans-IO code shared by client and simulator.

Nothing in this package opens sockets or files; it turns bytes into documents,
documents into envelope objects, and back.
"""
