"""The script tests share the storage tests' Supabase Storage server fixtures."""

from tests.storage.conftest import supabase, supabase_server

__all__ = ["supabase", "supabase_server"]
