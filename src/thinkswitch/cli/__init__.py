"""The command-line face of thinkswitch."""
