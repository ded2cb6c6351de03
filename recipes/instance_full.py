"""Instance-aware colorization, stage 1: the full-image branch, an ordinary
colorizer trained on whole photos with the composite loss.

See kcolor.instance.stages and docs/INSTANCE_STUDY.md.
"""

from kcolor import training
from kcolor.instance import stages

RECIPE = stages.make_recipe("full")

if __name__ == "__main__":
    training.main(RECIPE)
