# why: renormalises from scratch at every step (q = softmax(eta * l_t)), forgetting the previous q
def dro_weights(group_losses, eta):
    G = group_losses.shape[1]
    q = torch.ones(G, dtype=group_losses.dtype) / G
    for row in group_losses:
        q = torch.softmax(eta * row, dim=0)
    return q
