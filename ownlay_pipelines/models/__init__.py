"""Models over the lake: unified campaign metrics and the marts built on them (DuckDB SQL)."""
