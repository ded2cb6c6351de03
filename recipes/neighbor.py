"""Huber + 10 x NeighborLoss on a regression head.

The neighbour loss alone is minimised by any flat colour, so it needs a data
term; the study pairs it with Huber in its composite, so Huber is that term
here, with the composite's weight 10 on the neighbour term.
"""

from kcolor import losses, training

RECIPE = training.Recipe(
    name="neighbor",
    head="regression",
    loss=lambda: losses.CompositeLoss([losses.Huber(), losses.NeighborLoss()], [1.0, 10.0]),
    description="regression head, Huber + 10 Neighbor",
)

if __name__ == "__main__":
    training.main(RECIPE)
