"""shuangsuiji: reproducible, auditable 双随机、一公开 random inspections.

Draw the businesses to inspect and the inspectors who go there by a lottery anyone can
replay (SSJ-DRAW-1), under recusal (回避) rules, and publish the results within the
working-day deadline.
"""

from shuangsuiji.ids import validate_uscc

__version__ = "0.1.0"

__all__ = ["__version__", "validate_uscc"]
