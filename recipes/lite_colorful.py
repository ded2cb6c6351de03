"""U-Net on an ImageNet-pretrained EfficientNet-Lite0, trained to be accurate
and colourful at once: ``losses.ColorfulHuber`` (Huber on ab, each pixel
weighted by the rebalancing weight of its true colour, λ = 0.8, plus a
hue-blind chroma term).

    python recipes/lite_colorful.py --data_dir=train,people_places/train --val_dir=val
"""

from kcolor import losses, training

RECIPE = training.Recipe(
    name="lite_colorful",
    head="regression",
    arch="unet_lite0",
    loss=lambda: losses.ColorfulHuber(),
    description="U-Net on pretrained EfficientNet-Lite0, rebalanced Huber + chroma Huber",
)

if __name__ == "__main__":
    training.main(RECIPE)
