# why: orders the rows colour by colour instead of image by image
def exhaustive_off_diagonal(pixels, digits, strength=3.0, n_colours=3):
    digits = digits.long()
    rows, shapes, colours = [], [], []
    for c in range(n_colours):
        for i in range(len(digits)):
            if c != int(digits[i]):
                rows.append(pixels[i])
                shapes.append(int(digits[i]))
                colours.append(c)
    colour = torch.tensor(colours)
    onehot = strength * F.one_hot(colour, n_colours).to(pixels.dtype)
    return torch.cat([torch.stack(rows), onehot], dim=1), torch.tensor(shapes), colour
