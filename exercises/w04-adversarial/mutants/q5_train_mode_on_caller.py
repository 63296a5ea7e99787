# why: switches the caller's model to training mode before copying it, and leaves it so
def online_tent(model, X, lr, batch_size):
    model.train()
    adapted = copy.deepcopy(model)
    for p in adapted.parameters():
        p.requires_grad_(False)
    affine = []
    for layer in adapted.modules():
        if isinstance(layer, torch.nn.BatchNorm1d):
            layer.weight.requires_grad_(True)
            layer.bias.requires_grad_(True)
            affine += [layer.weight, layer.bias]
    opt = torch.optim.SGD(affine, lr=lr)
    preds = []
    for start in range(0, X.shape[0], batch_size):
        logits = adapted(X[start:start + batch_size])
        preds.append(logits.argmax(dim=1))
        opt.zero_grad()
        mean_entropy(logits).backward()
        opt.step()
    state = {k: v.detach().clone() for k, v in adapted.state_dict().items()}
    return torch.cat(preds), state
