# why: writes a plain one-hot colour (strength 1) whatever strength is asked for
def exhaustive_off_diagonal(pixels, digits, strength=3.0, n_colours=3):
    digits = digits.long()
    colours = torch.arange(n_colours).repeat(len(digits), 1)
    keep = colours != digits.unsqueeze(1)
    colour = colours[keep]
    image = torch.arange(len(digits)).unsqueeze(1).expand(-1, n_colours)[keep]
    onehot = F.one_hot(colour, n_colours).to(pixels.dtype)
    return torch.cat([pixels[image], onehot], dim=1), digits[image], colour
