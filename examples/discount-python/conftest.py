# Outside confine, find confine_probe in the source tree (under confine it is on PYTHONPATH).
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
try:
    import confine_probe  # noqa: F401
except ImportError:
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "Sources", "ConfinePython"))
