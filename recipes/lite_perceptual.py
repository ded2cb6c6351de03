"""U-Net on an ImageNet-pretrained EfficientNet-Lite0: regression, Huber on ab
plus 5 × the distance between frozen EfficientNet-Lite0 features of the
predicted and the true colour photo (``kcolor.perceptual.PerceptualLoss``),
so that the colour it adds is colour an ImageNet network recognises. Made to
fine-tune the shipped model at the scale it works at (issue #20):

    kcolor train lite_perceptual --init_from=lite128 --crop_size=256 \
        --data_dir=train,people_places/train,diverse/train --val_dir=val
"""

from kcolor import perceptual, training

RECIPE = training.Recipe(
    name="lite_perceptual",
    head="regression",
    arch="unet_lite0",
    loss=lambda: perceptual.PerceptualLoss(weight=5.0, variant=0, taps=(8, 16, 32)),
    description="U-Net on pretrained EfficientNet-Lite0, regression head, Huber on ab "
                "+ 5 x frozen Lite0 feature distance (strides 8, 16, 32)",
)

if __name__ == "__main__":
    training.main(RECIPE)
