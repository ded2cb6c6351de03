"""U-Net on an ImageNet-pretrained EfficientNet-Lite0: regression, Huber on ab
plus 0.02 × the distance between frozen EfficientNet-Lite0 features of the
predicted and the true colour photo (``kcolor.perceptual.PerceptualLoss``),
so that the colour it adds is colour an ImageNet network recognises. Made to
fine-tune ``lite128`` with scale augmentation (issue #20):

    kcolor train lite_perceptual --init_from=lite128 --max_scale=2 \
        --data_dir=train,people_places/train,diverse/train --val_dir=val

Why 0.02: on 16 val photos the feature distance is about 2.15 for lite128's
colours and 2.49 for gray, Huber (on ab / 110) 0.0067 and 0.0102; at weight 5
the feature term was 1,600 times the data term and one epoch took val
colourfulness from 0.56x to 0.32x the truth's. At 0.02 the feature term's
gain from gray to lite128's colours (0.0068) is about twice Huber's (0.0035).
"""

from kcolor import perceptual, training

RECIPE = training.Recipe(
    name="lite_perceptual",
    head="regression",
    arch="unet_lite0",
    loss=lambda: perceptual.PerceptualLoss(weight=0.02, variant=0, taps=(8, 16, 32)),
    description="U-Net on pretrained EfficientNet-Lite0, regression head, Huber on ab "
                "+ 0.02 x frozen Lite0 feature distance (strides 8, 16, 32)",
)

if __name__ == "__main__":
    training.main(RECIPE)
