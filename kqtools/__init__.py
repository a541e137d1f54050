"""kqtools (kq): enterprise lists, scoring, credit lists, specialists and reminders."""
__version__ = "0.1.0"
