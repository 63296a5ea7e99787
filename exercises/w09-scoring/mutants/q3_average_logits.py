# why: averages the members' logits and takes one softmax instead of averaging probs
def ensemble_predictive(logit_stack):
    z = torch.as_tensor(logit_stack, dtype=torch.float64)
    return torch.softmax(z.mean(dim=0), dim=1)
