// One virtual network: external TCP ingress (MQTT on 8883) needs a Container Apps environment on a
// custom VNet, and the function app joins the same VNet (Flex Consumption VNet integration) to call the
// broker's internal API, which is not exposed outside it.
param location string
param tags object
param name string

resource vnet 'Microsoft.Network/virtualNetworks@2024-05-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    addressSpace: { addressPrefixes: ['10.10.0.0/16'] }
    subnets: [
      {
        name: 'snet-container-apps'
        properties: {
          addressPrefix: '10.10.0.0/23'
          delegations: [{ name: 'containerapps', properties: { serviceName: 'Microsoft.App/environments' } }]
        }
      }
      {
        name: 'snet-functions'
        properties: {
          addressPrefix: '10.10.2.0/24'
          delegations: [{ name: 'flexconsumption', properties: { serviceName: 'Microsoft.App/environments' } }]
        }
      }
    ]
  }
}

output containerAppsSubnetId string = vnet.properties.subnets[0].id
output functionsSubnetId string = vnet.properties.subnets[1].id
