"""U-Net on an ImageNet-pretrained EfficientNet-Lite0: Zhang et al.'s
classification over the in-gamut grid-10 bins, class-rebalanced (λ = 0.5),
decoded by the annealed mean (T = 0.38).

    python recipes/lite_classification.py --data_dir=train,people_places/train --val_dir=val
"""

from kcolor import losses, training

RECIPE = training.Recipe(
    name="lite_classification",
    head="classification",
    arch="unet_lite0",
    grid="zhang",
    loss=lambda: losses.BinnedCrossEntropy(grid="zhang", rebalance=True),
    monitor="val_auc",
    description="U-Net on pretrained EfficientNet-Lite0, rebalanced CE over grid-10 bins, "
                "annealed mean at T = 0.38",
)

if __name__ == "__main__":
    training.main(RECIPE)
