"""Vercel entry point: the ASGI application."""

from app.kit.heap import freeze_startup_heap
from app.main import create_app

app = create_app()
freeze_startup_heap()
