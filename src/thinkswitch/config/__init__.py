"""The configuration file: its schema (`schema`) and how it becomes settings (`load`)."""
