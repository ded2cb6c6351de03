"""U-Net on an ImageNet-pretrained EfficientNet-Lite0: regression, L2 on ab.

L2 is minimised by the conditional mean of ab, which is also what minimises
the squared error that PSNR scores; Huber with a small delta (``lite_huber``)
pulls toward the median instead. Fine-tuning the shipped ``lite`` with it:

    python recipes/lite_l2.py --data_dir=train,people_places/train --val_dir=val --init_from=lite
"""

from kcolor import losses, training

RECIPE = training.Recipe(
    name="lite_l2",
    head="regression",
    arch="unet_lite0",
    loss=lambda: losses.L2(),
    description="U-Net on pretrained EfficientNet-Lite0, regression head, L2 on ab / 110",
)

if __name__ == "__main__":
    training.main(RECIPE)
