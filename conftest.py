"""This repository's own runs load the gates plugin from the checkout (installed gates loads it via pytest11)."""
