"""``python -m pi_agent.config``: print the documented defaults (the shipped agent.toml);
with ``--write``, write config/agent.toml and the README's reference from the schema."""

import sys
from pathlib import Path

from pi_agent.config.reference import render_toml, write

if "--write" in sys.argv:
    toml, readme = write(Path(__file__).resolve().parents[2])
    print(f"wrote {toml} and the reference in {readme}")
else:
    print(render_toml())
