"""Web pages for people. Each module holds the views of one area; urls.py names them all."""
