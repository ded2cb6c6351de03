"""Instance-aware colorization, stage 2: the instance branch, an ordinary
colorizer trained on crops of detected and random boxes (``--boxes``,
``--init_from`` stage 1's best.keras, ``--crop_size=64``).

See kcolor.instance.stages and docs/INSTANCE_STUDY.md.
"""

from kcolor import training
from kcolor.instance import stages

RECIPE = stages.make_recipe("crops")

if __name__ == "__main__":
    training.main(RECIPE)
