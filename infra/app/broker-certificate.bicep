// Creates the broker's TLS server certificate in Key Vault when absent (self-signed, PEM, key exportable
// so that Container Apps can mount it; Key Vault renews it before it expires). It runs during provisioning
// because the broker app mounts the certificate and can only be created once it exists, and its subject
// names the broker's host, which exists only once the Container Apps environment does.
param location string
param tags object
param name string
param identityId string
param keyVaultName string
param certificateName string
param hostName string

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource script 'Microsoft.Resources/deploymentScripts@2023-08-01' = {
  name: name
  location: location
  tags: tags
  kind: 'AzureCLI'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identityId}': {} }
  }
  properties: {
    azCliVersion: '2.67.0'
    retentionInterval: 'PT1H'
    timeout: 'PT15M'
    cleanupPreference: 'OnSuccess'
    // Re-run when the host name changes (a new environment); otherwise the script is skipped.
    forceUpdateTag: hostName
    environmentVariables: [
      { name: 'VAULT', value: vault.name }
      { name: 'CERT', value: certificateName }
      { name: 'HOST', value: hostName }
    ]
    scriptContent: loadTextContent('../scripts/broker-certificate.sh')
  }
}

output certificateName string = certificateName
// Versionless: Container Apps follows Key Vault's renewals. Outputs are read once the script has run.
output secretUri string = '${vault.properties.vaultUri}secrets/${certificateName}'
