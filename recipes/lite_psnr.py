"""U-Net on an ImageNet-pretrained EfficientNet-Lite0: regression, trained on
the mean over photos of log squared ab error (``losses.LogMSE``), the quantity
validation's mean PSNR averages. Fine-tuning the shipped ``lite`` with it:

    python recipes/lite_psnr.py --data_dir=train,people_places/train --val_dir=val --init_from=lite
"""

from kcolor import losses, training

RECIPE = training.Recipe(
    name="lite_psnr",
    head="regression",
    arch="unet_lite0",
    loss=lambda: losses.LogMSE(),
    description="U-Net on pretrained EfficientNet-Lite0, regression head, per-photo log MSE on ab",
)

if __name__ == "__main__":
    training.main(RECIPE)
