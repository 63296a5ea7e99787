# why: updates every parameter, not only the batch-norm affine parameters
def online_tent(model, X, lr, batch_size):
    adapted = copy.deepcopy(model)
    adapted.train()
    opt = torch.optim.SGD(adapted.parameters(), lr=lr)
    preds = []
    for start in range(0, X.shape[0], batch_size):
        logits = adapted(X[start:start + batch_size])
        preds.append(logits.argmax(dim=1))
        opt.zero_grad()
        mean_entropy(logits).backward()
        opt.step()
    state = {k: v.detach().clone() for k, v in adapted.state_dict().items()}
    return torch.cat(preds), state
