"""The access audit: who asked for what, about whom, with what outcome, at what upstream cost."""
