#!/usr/bin/env bash
# Run by the deployment script in infra/app/broker-certificate.bicep (Azure CLI container, user-assigned
# identity with Key Vault Certificates Officer, data plane only). Creates the broker's TLS server certificate
# if absent or if it names another host. Inputs: VAULT, CERT, HOST.
set -euo pipefail

# A new role assignment can take a few minutes to reach Key Vault: retry reads until they are allowed.
for attempt in $(seq 1 30); do
  if current=$(az keyvault certificate show --vault-name "$VAULT" --name "$CERT" --query "policy.x509CertificateProperties.subjectAlternativeNames.dnsNames[0]" -o tsv 2>/tmp/err); then
    break
  fi
  if grep -q "NotFound\|CertificateNotFound" /tmp/err; then
    current=""
    break
  fi
  echo "waiting for Key Vault access ($attempt): $(head -c 200 /tmp/err)"
  sleep 10
done

if [ "${current:-}" != "$HOST" ]; then
  cat > /tmp/policy.json <<POLICY
{
  "issuerParameters": { "name": "Self" },
  "keyProperties": { "exportable": true, "keyType": "RSA", "keySize": 2048, "reuseKey": false },
  "secretProperties": { "contentType": "application/x-pem-file" },
  "x509CertificateProperties": {
    "subject": "CN=$HOST",
    "subjectAlternativeNames": { "dnsNames": ["$HOST"] },
    "keyUsage": ["digitalSignature", "keyEncipherment"],
    "ekus": ["1.3.6.1.5.5.7.3.1"],
    "validityInMonths": 12
  },
  "lifetimeActions": [ { "trigger": { "daysBeforeExpiry": 30 }, "action": { "actionType": "AutoRenew" } } ]
}
POLICY
  az keyvault certificate create --vault-name "$VAULT" --name "$CERT" --policy @/tmp/policy.json --output none
fi
