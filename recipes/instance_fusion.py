"""Instance-aware colorization, stage 3: the fusion modules, trained on top of
the frozen branches of stages 1 and 2 (``--full_model``, ``--instance_model``,
``--boxes``, ``--val_boxes``).

See kcolor.instance.stages and docs/INSTANCE_STUDY.md.
"""

from kcolor import training
from kcolor.instance import stages

RECIPE = stages.make_recipe("fusion")

if __name__ == "__main__":
    training.main(RECIPE)
