"""The shipped instance-aware model (issue #22): the ``lite`` preset on the
whole photo (frozen), a second copy of it on each detected box, fused in the
decoder (``kcolor.instance.lite_model``); only the instance branch and the
fusion train (``kcolor.instance.lite_stage``). Retrain it with
``studies/train_lite_instances.sh``; see docs/INSTANCE_STUDY.md.
"""

from kcolor import training
from kcolor.instance import lite_stage

RECIPE = lite_stage.make_recipe()

if __name__ == "__main__":
    training.main(RECIPE)
