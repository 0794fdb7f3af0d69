// The function app on Flex Consumption (Linux, .NET 10 isolated worker), running as a user-assigned
// identity: host storage, the deployment package, tables, Key Vault and Application Insights all use it.
param location string
param tags object
param name string
param planName string
param identityId string
param identityClientId string
param storageAccountName string
param deploymentContainerName string
param applicationInsightsName string
param subnetId string
param brokerApiBaseUrl string
param brokerApiKeySecretUri string
param keyVaultUri string
param maximumInstanceCount int = 100
param instanceMemoryMB int = 2048

var caCertificateName = 'platform-ca'

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    tier: 'FlexConsumption'
    name: 'FC1'
  }
  properties: {
    reserved: true
  }
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: tags
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identityId}': {} }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    keyVaultReferenceIdentity: identityId
    virtualNetworkSubnetId: subnetId
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'dotnet-isolated'
        version: '10.0'
      }
    }
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      appSettings: [
        // The Functions host: storage and telemetry through the identity (no keys).
        { name: 'AzureWebJobsStorage__accountName', value: storage.name }
        { name: 'AzureWebJobsStorage__credential', value: 'managedidentity' }
        { name: 'AzureWebJobsStorage__clientId', value: identityClientId }
        { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: applicationInsights.properties.ConnectionString }
        { name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING', value: 'ClientId=${identityClientId};Authorization=AAD' }
        // The platform (README "Configuration").
        { name: 'Storage__TableServiceUri', value: storage.properties.primaryEndpoints.table }
        // Rule actions `queue` and `blob` write to the same account.
        { name: 'Storage__QueueServiceUri', value: storage.properties.primaryEndpoints.queue }
        { name: 'Storage__BlobServiceUri', value: storage.properties.primaryEndpoints.blob }
        { name: 'Storage__ManagedIdentityClientId', value: identityClientId }
        // Rule actions that call Azure with the app's identity (eventGrid; function with an audience).
        { name: 'Rules__Actions__ManagedIdentityClientId', value: identityClientId }
        { name: 'BrokerApi__BaseUrl', value: brokerApiBaseUrl }
        { name: 'BrokerApi__Key', value: '@Microsoft.KeyVault(SecretUri=${brokerApiKeySecretUri})' }
        { name: 'CertificateAuthority__Kind', value: 'KeyVault' }
        { name: 'CertificateAuthority__KeyVaultUri', value: keyVaultUri }
        { name: 'CertificateAuthority__KeyVaultCertificateName', value: caCertificateName }
        { name: 'CertificateAuthority__ManagedIdentityClientId', value: identityClientId }
        { name: 'Platform__Region', value: location }
      ]
    }
  }
}

output name string = functionApp.name
output baseUrl string = 'https://${functionApp.properties.defaultHostName}'
output caCertificateName string = caCertificateName
