"""Test support: helpers shared by test suites (throwaway Redis servers)."""
