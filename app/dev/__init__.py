"""Routes that exist only on development servers."""
