"""The embedded chain node: a single-writer EVM (py-evm) with its durable key-value
store (``embedded``, ``_kvstore``), bounded read-only calls (``callview``) and the
JSON-RPC server it offers verifiers (``rpcserver``). The contract client beside it
(``notary.chain.client``) talks to this node or any other through web3."""
