"""U-Net on an ImageNet-pretrained EfficientNet-Lite0: regression, Huber on ab.

    python recipes/lite_huber.py --data_dir=train,people_places/train --val_dir=val
"""

from kcolor import losses, training

RECIPE = training.Recipe(
    name="lite_huber",
    head="regression",
    arch="unet_lite0",
    loss=lambda: losses.Huber(),
    description="U-Net on pretrained EfficientNet-Lite0, regression head, Huber on ab / 110",
)

if __name__ == "__main__":
    training.main(RECIPE)
