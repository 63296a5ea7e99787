# why: compares every member with member 0 instead of with the ensemble's prediction
def disagreement(stack):
    p = torch.as_tensor(stack, dtype=torch.float64)
    y_hat = p[0].argmax(dim=1)
    return (p.argmax(dim=2) != y_hat[None, :]).double().mean(dim=0)
