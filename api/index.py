"""Vercel entry point: the ASGI application."""

from app.main import create_app

app = create_app()
