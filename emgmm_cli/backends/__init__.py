"""Where the per-chunk engine functions run: in this process (threads, memory maps)."""
