# why: takes the majority vote of the members' labels instead of the mean probabilities
def disagreement(stack):
    p = torch.as_tensor(stack, dtype=torch.float64)
    votes = p.argmax(dim=2)
    y_hat = torch.mode(votes, dim=0).values
    return (votes != y_hat[None, :]).double().mean(dim=0)
