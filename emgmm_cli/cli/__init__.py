"""The click commands: parse, call the engine, render. No numerics here."""
