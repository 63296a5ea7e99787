# why: multiplies by exp(-eta * loss), which moves weight to the easy groups
def dro_weights(group_losses, eta):
    G = group_losses.shape[1]
    q = torch.ones(G, dtype=group_losses.dtype) / G
    for row in group_losses:
        q = q * torch.exp(-eta * row)
        q = q / q.sum()
    return q
