"""Views of the travelers API, one module per topic: thin, they validate shapes and call one service."""
