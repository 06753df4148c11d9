"""The browser app served at `/`: static files that use only the public API."""
